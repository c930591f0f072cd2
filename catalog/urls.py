from django.urls import path

from catalog import views

app_name = "catalog"
urlpatterns = [
    path("films/", views.browse, name="browse"),
    path("films/<pk:pk>/", views.movie_detail, name="movie_detail"),
    path("films/<pk:pk>/rate/", views.rate, name="rate"),
    path("films/<pk:pk>/<str:which>/", views.toggle_list, name="toggle_list"),
]
