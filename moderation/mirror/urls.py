from django.urls import path

from moderation.mirror import api

app_name = "mirror"

urlpatterns = [
    path("accounts/", api.AccountsMirrorView.as_view(), name="accounts"),
    path("stories/", api.StoriesMirrorView.as_view(), name="stories"),
    path("follows/", api.FollowsMirrorView.as_view(), name="follows"),
    path("engagement/", api.EngagementMirrorView.as_view(), name="engagement"),
]
