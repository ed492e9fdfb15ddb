from django.urls import path

from oauthapps import views

app_name = "oauthapps"

urlpatterns = [
    path("orgs/<uuid:org_id>/oauth-apps/", views.app_list, name="app_list"),
]
