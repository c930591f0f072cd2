"""Singletons get a natural key (`slot`) instead of the fixed pk=1, which MongoDB's ObjectId keys cannot have.

Three steps so the existing row survives as the singleton: add `slot` nullable, mark the row the
code used (pk=1, else the oldest) as "default" and drop any stray rows (never read: every access
was pk=1), then make `slot` unique and required.
"""

from django.db import migrations, models

SLOT = "default"
SINGLETONS = ("activemodel", "trainingstate")


def keep_existing_row(apps, schema_editor) -> None:
    for name in SINGLETONS:
        model = apps.get_model("recommendations", name)
        keep = model.objects.filter(pk=1).first() or model.objects.order_by("pk").first()
        if keep is None:
            continue
        model.objects.exclude(pk=keep.pk).delete()
        model.objects.filter(pk=keep.pk).update(slot=SLOT)


def slot_field(**kwargs) -> models.CharField:
    return models.CharField(editable=False, max_length=16, **kwargs)


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0001_initial"),
    ]

    operations = [
        *(migrations.AddField(model_name=name, name="slot", field=slot_field(null=True)) for name in SINGLETONS),
        migrations.RunPython(keep_existing_row, migrations.RunPython.noop),
        *(
            migrations.AlterField(model_name=name, name="slot", field=slot_field(default=SLOT, unique=True))
            for name in SINGLETONS
        ),
    ]
