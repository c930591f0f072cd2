"""AppConfigs that give contrib and third-party models ObjectId primary keys on MongoDB.

DEFAULT_AUTO_FIELD does not reach apps whose AppConfig sets default_auto_field
itself (admin, auth, contenttypes, django_celery_results, axes all pin AutoField),
and MongoDB has no integer auto-increment. movierec.mongo swaps these in for the
originals when MONGODB_URI is set; their migrations live in mongo_migrations/.
"""

from __future__ import annotations

from axes.apps import AppConfig as AxesConfig
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig
from django_celery_results.apps import CeleryResultConfig

OBJECT_ID_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(AdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoCeleryResultConfig(CeleryResultConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoAxesConfig(AxesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD
