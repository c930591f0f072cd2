"""Celery application: settings from Django (namespace CELERY), tasks autodiscovered.

TensorFlow is never imported here: a process that has run TF and then forks
hangs, so ML work loads the model lazily inside the worker that uses it.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = Celery("movierec")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
