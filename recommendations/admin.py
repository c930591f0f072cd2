"""Admin for model versions: metrics, loss curve and metrics-across-versions charts, retrain / promote / roll back,
and a view of running tasks with their progress.

Charts are inline SVG drawn here (no JavaScript, no chart library): a picture
staff can read at a glance, with the exact numbers in tooltips and tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from recommendations import selectors, services, training
from recommendations.models import ModelVersion, TrainingState
from recommendations.selectors import WAITING_MINUTES

STATUS_COLOURS = {
    "active": "#2e7d32",
    "ready": "#607d8b",
    "rejected": "#c62828",
    "failed": "#6d4c41",
    "training": "#1565c0",
    "evaluating": "#6a1b9a",
    "queued": "#9e9e9e",
}
DONE_STATUSES = ("active", "ready")
# Celery task states that are not final.
UNFINISHED_TASK_STATES = ("PENDING", "RECEIVED", "STARTED", "RETRY")
# Each chain task is one stage of its version (recommendations.tasks.training_chain).
TASK_STAGES = {
    "fine_tune_encoder": "fine-tune",
    "refresh_embeddings": "refresh",
    "train_collab": "collab",
    "evaluate_and_promote": "evaluate",
}
SERIES_COLOURS = ("#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a")


# --------------------------------------------------------------------------- SVG


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    colour: str
    # Per-point marker colour and tooltip; empty: no markers.
    marker_colours: Sequence[str] = ()
    tooltips: Sequence[str] = ()


def _nice(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def svg_chart(
    series: list[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[tuple[float, str]] = (),
    keys: Sequence[tuple[str, str]] = (),
    width: int = 680,
    height: int = 250,
) -> SafeString:
    """A line chart with axes, min/mid/max y labels, optional markers and a legend, as an <svg> string.

    ``keys`` adds (colour, label) marker swatches to the legend, e.g. what marker colours mean.
    """
    points = [p for s in series for p in s.points]
    if not points:
        return format_html('<p class="help">{}</p>', f"{title}: no data yet")
    left, right, top, bottom = 56, 16, 46, 40
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    xpad = (x1 - x0) * 0.03  # keeps end markers off the axes
    x0, x1 = x0 - xpad, x1 + xpad
    pad = (y1 - y0) * 0.08 or abs(y1) * 0.1 or 0.1
    y0, y1 = y0 - pad, y1 + pad
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" style="background:#fff;border:1px solid #ddd;max-width:100%">',
        f'<text x="{left}" y="18" font-size="13" font-weight="bold" fill="#333">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        value = y0 + pad + frac * (y1 - y0 - 2 * pad)
        y = sy(value)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#555">{_nice(value)}</text>')
    lo, hi = min(xs), max(xs)
    ticks = list(x_ticks) or sorted({(round(lo + (hi - lo) * i / 4), _nice(round(lo + (hi - lo) * i / 4))) for i in range(5)})
    for x, label in ticks:
        out.append(
            f'<text x="{sx(x):.1f}" y="{top + plot_h + 15}" font-size="11" text-anchor="middle" fill="#555">{escape(label)}</text>'
        )
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="11" text-anchor="middle" fill="#555">{escape(x_label)}</text>'
    )
    out.append(
        f'<text x="14" y="{top + plot_h / 2:.1f}" font-size="11" text-anchor="middle" fill="#555" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    for n, s in enumerate(series):
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s.points)
        out.append(f'<polyline fill="none" stroke="{s.colour}" stroke-width="1.8" points="{coords}"/>')
        for i, (x, y) in enumerate(s.points if s.marker_colours else []):
            tip = s.tooltips[i] if i < len(s.tooltips) else f"{x:g}: {y:.4f}"
            out.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="{s.marker_colours[i]}" stroke="{s.colour}" stroke-width="1.5">'
                f"<title>{escape(tip)}</title></circle>"
            )
        lx = left + 170 * n
        out.append(f'<line x1="{lx}" y1="32" x2="{lx + 18}" y2="32" stroke="{s.colour}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 24}" y="36" font-size="11" fill="#333">{escape(s.label)}</text>')
    for n, (colour, label) in enumerate(keys):
        kx = left + 170 * len(series) + 80 * n
        out.append(f'<circle cx="{kx + 5}" cy="32" r="4" fill="{colour}"/>')
        out.append(f'<text x="{kx + 13}" y="36" font-size="11" fill="#333">{escape(label)}</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # every text above is escaped, the rest are numbers


def loss_chart(version: ModelVersion) -> SafeString:
    curve = [float(x) for x in version.loss_curve or []]
    series = [Series("loss per step", [(i + 1, v) for i, v in enumerate(curve)], SERIES_COLOURS[0])]
    if len(curve) >= 10:  # the raw loss is noisy: a running mean shows the trend
        window = max(len(curve) // 10, 3)
        smooth = [
            sum(curve[max(0, i - window + 1) : i + 1]) / len(curve[max(0, i - window + 1) : i + 1]) for i in range(len(curve))
        ]
        series.append(Series(f"running mean ({window} steps)", [(i + 1, v) for i, v in enumerate(smooth)], SERIES_COLOURS[1]))
    return svg_chart(series, title=f"v{version.pk}: fine-tuning loss", x_label="step", y_label="loss (MNR)")


def metrics_chart(versions: Sequence[ModelVersion]) -> SafeString:
    scored = [v for v in sorted(versions, key=lambda v: v.pk) if isinstance((v.metrics or {}).get("ndcg@10"), int | float)]
    series = []
    for n, key in enumerate(("ndcg@10", "recall@10")):
        points = [(float(i), float(v.metrics[key])) for i, v in enumerate(scored) if isinstance(v.metrics.get(key), int | float)]
        series.append(
            Series(
                key,
                points,
                SERIES_COLOURS[n],
                marker_colours=[STATUS_COLOURS.get(v.status, "#999") for v in scored],
                tooltips=[f"v{v.pk} ({v.status}) {key} {v.metrics[key]:.4f}" for v in scored],
            )
        )
    ticks = [(float(i), f"v{v.pk}") for i, v in enumerate(scored)]
    if len(ticks) > 12:
        ticks = ticks[:: len(ticks) // 12 + 1]
    return svg_chart(
        series,
        title="Held-out metrics across versions",
        x_label="version",
        y_label="metric",
        x_ticks=ticks,
        keys=[(STATUS_COLOURS[s], s) for s in ("active", "ready", "rejected")],
    )


def progress_bar(fraction: float, colour: str = "#1565c0") -> SafeString:
    pct = max(0.0, min(1.0, float(fraction or 0))) * 100
    return format_html(
        '<div style="width:110px;background:#eee;border-radius:3px" title="{}%">'
        '<div style="width:{}%;background:{};height:10px;border-radius:3px"></div></div>',
        f"{pct:.0f}",
        f"{pct:.1f}",
        colour,
    )


def task_fraction(task_name: str, status: str, version: ModelVersion | None) -> float | None:
    """How far one chain task is: its own stage's share of the version's progress.

    The version's progress spans the whole chain, so showing it on every task row put a finished
    fine-tuning at 87% while the collaborative stage ran.
    """
    if status == "SUCCESS":
        return 1.0
    if status not in UNFINISHED_TASK_STATES or version is None:
        return None
    span = training.STAGE_SPAN.get(TASK_STAGES.get(task_name.rpartition(".")[2], ""))
    if span is None:
        return version.progress
    lo, hi = span
    return min(max((version.progress - lo) / (hi - lo), 0.0), 1.0)


# --------------------------------------------------------------------------- admin


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "status_badge", "created_at", "parent", "ndcg", "recall", "progress_col", "short_reason"]
    list_filter = ["status"]
    list_select_related = ["parent"]
    actions = ["promote_selected"]
    fieldsets = [
        (None, {"fields": ["status", "parent", "base_model", "reason", "created_at", "started_at", "finished_at"]}),
        ("Progress", {"fields": ["progress_view", "progress_message", "heartbeat_at", "task_id"]}),
        ("Charts", {"fields": ["loss_chart_view", "metrics_view"]}),
        ("Data", {"fields": ["data_counts", "metrics", "loss_curve"], "classes": ["collapse"]}),
        ("Artifacts", {"fields": ["encoder_path", "embeddings_path", "collab_path"]}),
    ]
    # Extends the app's change_list.html: shows Retrain / Roll back only to staff who may use them.
    change_list_template = "admin/recommendations/modelversion/change_list_controls.html"

    def get_readonly_fields(self, request: HttpRequest, obj: ModelVersion | None = None) -> list[str]:
        # Versions are written by the training chain only; staff act through the buttons.
        return [f.name for f in ModelVersion._meta.fields] + ["progress_view", "loss_chart_view", "metrics_view"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return False  # artifacts and the audit trail stay; the pointer protects the active one anyway

    @admin.display(description="version", ordering="pk")
    def name(self, obj: ModelVersion) -> str:
        return f"v{obj.pk}"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: ModelVersion) -> SafeString:
        return format_html(
            '<span style="color:#fff;background:{};padding:1px 6px;border-radius:8px">{}</span>',
            STATUS_COLOURS.get(obj.status, "#999"),
            obj.get_status_display(),
        )

    @admin.display(description="nDCG@10")
    def ndcg(self, obj: ModelVersion) -> str:
        value = (obj.metrics or {}).get("ndcg@10")
        return f"{value:.4f}" if isinstance(value, int | float) else "–"

    @admin.display(description="Recall@10")
    def recall(self, obj: ModelVersion) -> str:
        value = (obj.metrics or {}).get("recall@10")
        return f"{value:.4f}" if isinstance(value, int | float) else "–"

    @admin.display(description="progress")
    def progress_col(self, obj: ModelVersion) -> SafeString:
        return progress_bar(obj.progress, STATUS_COLOURS.get(obj.status, "#999"))

    @admin.display(description="reason")
    def short_reason(self, obj: ModelVersion) -> str:
        return obj.reason[:90] + ("…" if len(obj.reason) > 90 else "")

    @admin.display(description="progress")
    def progress_view(self, obj: ModelVersion) -> SafeString:
        if obj.status in DONE_STATUSES and not obj.progress:
            return format_html("{}", "– (built without a training run)" if not obj.started_at else "–")
        return format_html("{} {}", progress_bar(obj.progress), f"{obj.progress * 100:.0f}%")

    @admin.display(description="loss curve")
    def loss_chart_view(self, obj: ModelVersion) -> SafeString:
        return loss_chart(obj)

    @admin.display(description="metrics")
    def metrics_view(self, obj: ModelVersion) -> SafeString:
        m = obj.metrics or {}
        base = m.get("baseline") or {}
        rows = []
        for scorer in ("hybrid", "content"):
            mine = m.get(scorer) or {}
            theirs = base.get(scorer) or {}
            for key in ("ndcg@10", "recall@10"):
                if key in mine:
                    other = theirs.get(key)
                    rows.append(
                        format_html(
                            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            f"{scorer} {key}" + (" (gate)" if key == "ndcg@10" and scorer == m.get("scorer") else ""),
                            f"{mine[key]:.4f}",
                            f"{other:.4f}" if isinstance(other, int | float) else "–",
                            f"{mine[key] - other:+.4f}" if isinstance(other, int | float) else "–",
                        )
                    )
        if not rows:
            return format_html('<p class="help">{}</p>', "not evaluated")
        head = format_html(
            "<tr><th>metric</th><th>v{}</th><th>{}</th><th>Δ</th></tr>",
            obj.pk,
            f"v{base['version']} (active then)" if base else "baseline",
        )
        return format_html("<table>{}{}</table>", head, mark_safe("".join(rows)))  # rows are format_html output

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        waiting = selectors.versions_waiting_for_a_worker()
        if waiting:
            # Queued work that nothing picks up usually means no worker on the "ml" queue.
            self.message_user(
                request,
                f"Queued for over {WAITING_MINUTES} minutes and not started: {', '.join(f'v{v.pk}' for v in waiting)}. "
                "Is a Celery worker consuming the ml queue (scripts/run.sh starts one)?",
                messages.WARNING,
            )
        versions = list(ModelVersion.objects.exclude(metrics={}).order_by("-pk")[:40])
        state = TrainingState.objects.singleton().first()
        extra = {
            "can_control": self.has_change_permission(request),
            "metrics_chart": metrics_chart(versions),
            "training_state": state,
            "lock_holder": training.lock_holder(),
            "backoff_until": training.backoff_until(timezone.now()),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    # -- actions and buttons ------------------------------------------------------

    # "change", not the default (none): a view-only staff member could otherwise swap the served model.
    @admin.action(description="Promote the selected version (make it the one being served)", permissions=["change"])
    def promote_selected(self, request: HttpRequest, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to promote.", messages.WARNING)
            return
        version = queryset.get()
        try:
            training.promote_by_hand(version, user=request.user)
        except ValueError as exc:
            self.message_user(request, f"Not promoted: {exc}", messages.ERROR)
            return
        self.message_user(request, f"v{version.pk} is now active; web processes switch within seconds.", messages.SUCCESS)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("retrain/", wrap(require_POST(self.retrain_view)), name="recommendations_modelversion_retrain"),
            # GET: the confirmation page; POST: roll back.
            path("rollback/", wrap(self.rollback_view), name="recommendations_modelversion_rollback"),
            path("tasks/", wrap(self.tasks_view), name="recommendations_modelversion_tasks"),
            *super().get_urls(),
        ]

    def _changelist(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:recommendations_modelversion_changelist"))

    def retrain_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied  # the admin's 403 page, not an empty one
        try:
            task_id = training.retrain_now(request.user)
        except training.TrainingBusy as exc:
            self.message_user(request, f"Not queued: {exc}.", messages.WARNING)
        except training.BrokerUnavailable as exc:
            self.message_user(
                request, f"Not queued: {exc}. The periodic sweep will queue it when the broker is back.", messages.ERROR
            )
        else:
            version = ModelVersion.objects.filter(task_id=task_id).first()
            self.message_user(
                request, f"Retraining queued as v{version.pk if version else '?'} (task {task_id}).", messages.SUCCESS
            )
        return self._changelist()

    def rollback_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._rollback_confirmation(request)
        try:
            version = training.rollback(user=request.user)
        except ValueError as exc:
            self.message_user(request, f"No roll-back: {exc}.", messages.ERROR)
        else:
            self.message_user(request, f"Rolled back: v{version.pk} is active again.", messages.SUCCESS)
        return self._changelist()

    def _rollback_confirmation(self, request: HttpRequest) -> HttpResponse:
        """What a roll-back replaces, before it happens: it switches every user's recommendations."""
        active = services.active_version()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Roll back the served model?",
            "active": active,
            "parent": active.parent if active is not None else None,
        }
        return TemplateResponse(request, "admin/recommendations/modelversion/rollback_confirmation.html", context)

    def tasks_view(self, request: HttpRequest) -> HttpResponse:
        from django_celery_results.models import TaskResult

        if not self.has_view_permission(request):
            raise PermissionDenied
        results = list(TaskResult.objects.filter(task_name__startswith="recommendations.tasks.").order_by("-date_created")[:50])
        version_of = training.task_version_map([r.task_id for r in results])
        versions = {v.pk: v for v in ModelVersion.objects.filter(pk__in=set(version_of.values()))}
        rows = []
        for r in results:
            version = versions.get(version_of.get(r.task_id, -1))
            # Celery keeps STARTED for a task whose worker was killed; its version's failure
            # (set by the sweep) says it will never finish.
            lost = r.status in UNFINISHED_TASK_STATES and version is not None and version.status == ModelVersion.Status.FAILED
            state = f"{r.status}, lost (the version failed)" if lost else r.status
            if r.status in UNFINISHED_TASK_STATES:
                r.date_done = None  # the result backend stamps it when a task starts; not saved
            fraction = task_fraction(r.task_name, r.status, version)
            rows.append({"result": r, "state": state, "version": version, "bar": "" if fraction is None else progress_bar(fraction)})
        running = [
            {"version": v, "bar": progress_bar(v.progress, STATUS_COLOURS.get(v.status, "#999"))}
            for v in ModelVersion.objects.filter(status__in=["queued", "training", "evaluating"]).order_by("-pk")
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Training tasks",
            "rows": rows,
            "running": running,
            "state": TrainingState.objects.singleton().first(),
            "lock_holder": training.lock_holder(),
            "backoff_until": training.backoff_until(timezone.now()),
        }
        return TemplateResponse(request, "admin/recommendations/modelversion/tasks.html", context)
