"""API-key authentication for platform and detector clients.

Keys are issued and stored hashed by djangorestframework-api-key; a valid key
authenticates as its client's service user, so DRF throttles and permissions see
one principal per client. What a client may call is its scopes (ApiScope): `signals`
for the signals and cases API, `platform` for the platform mirror.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle
from rest_framework_api_key.permissions import KeyParser

from moderation.models import ApiClient, ApiClientKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"
    key_parser = KeyParser()

    def authenticate(self, request):
        key = self.key_parser.get(request)
        if not key:
            return None
        # get_from_key() is a manager method, so select_related() cannot precede it:
        # look the prefix up with the join, then verify the hash once.
        prefix = key.partition(".")[0]
        api_key = ApiClientKey.objects.get_usable_keys().select_related("client__user").filter(prefix=prefix).first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if api_key.has_expired or not api_key.client.is_active:
            raise exceptions.AuthenticationFailed(_("API key revoked or expired."))
        return api_key.client.user, api_key.client

    def authenticate_header(self, request):
        return self.keyword


class ApiClientRateThrottle(SimpleRateThrottle):
    """One bucket per API client (scope `api_client`), whichever key it uses."""

    scope = "api_client"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


CLIENT_THROTTLES = [ApiClientRateThrottle, UserRateThrottle]


class HasApiScope(permissions.BasePermission):
    """Only an API client granted the view's `required_scope` (an ApiScope) passes:
    staff sessions and clients without the scope get 403."""

    def has_permission(self, request, view):
        client = request.auth
        scope = view.required_scope
        self.message = f"This endpoint is for API clients with the `{scope}` scope."
        return isinstance(client, ApiClient) and client.has_scope(scope)
