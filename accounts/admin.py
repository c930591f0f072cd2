from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "is_active", "is_staff", "movielens_id", "date_joined"]
    list_filter = [*BaseUserAdmin.list_filter, "onboarded"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("movierec", {"fields": ["movielens_id", "onboarded", "favourite_genres"]})]
