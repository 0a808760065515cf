"""API-key authentication for platform and detector clients.

Keys are issued and stored hashed by djangorestframework-api-key; a valid key
authenticates as its client's service user, so DRF throttles and permissions see
one principal per client.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework_api_key.permissions import KeyParser

from moderation.models import ApiClientKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"
    key_parser = KeyParser()

    def authenticate(self, request):
        key = self.key_parser.get(request)
        if not key:
            return None
        try:
            api_key = ApiClientKey.objects.select_related("client__user").get_from_key(key)
        except ApiClientKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from None
        if not api_key.is_valid(key) or not api_key.client.is_active:
            raise exceptions.AuthenticationFailed(_("API key revoked or expired."))
        return api_key.client.user, api_key.client

    def authenticate_header(self, request):
        return self.keyword
