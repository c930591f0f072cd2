from django.urls import path

from recommendations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("onboarding/", views.onboarding, name="onboarding"),
    path("onboarding/done/", views.onboarding_done, name="onboarding_done"),
    path("search/", views.search, name="search"),
    path("me/", views.my_lists, name="my_lists"),
    path("me/ratings.csv", views.ratings_csv, name="ratings_csv"),
    path("posters/<pk:pk>.svg", views.poster, name="poster"),
]
