"""Celery application: settings from Django (namespace CELERY), tasks autodiscovered.

TensorFlow is never imported here: a process that has run TF and then forks
hangs, so ML work loads the model lazily inside the worker that uses it.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = Celery("movierec")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The sweep is what recovers from a broker outage or a dead worker, so it runs often;
# it only reads a row or two unless something is due.
app.conf.beat_schedule = {
    "training-sweep": {
        "task": "recommendations.tasks.sweep_training",
        "schedule": float(os.environ.get("MOVIEREC_SWEEP_SECONDS", 60)),
        "options": {"expires": 55},
    },
    "nightly-retrain": {
        "task": "recommendations.tasks.nightly_retrain",
        "schedule": crontab(hour=int(os.environ.get("MOVIEREC_NIGHTLY_HOUR", 3)), minute=0),
    },
}
