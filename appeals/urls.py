from django.urls import path

from appeals import views

app_name = "appeals"
urlpatterns = [
    path("", views.start, name="start"),
    path("start/<str:token>/", views.start_form, name="start_form"),
    path("notice/<str:token>/", views.notice_form, name="notice_form"),
    path("status/<str:token>/", views.status, name="status"),
]
