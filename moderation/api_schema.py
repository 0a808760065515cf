"""OpenAPI schema: every operation documents the errors it can answer, and strings
say which characters they refuse, so the published contract is the one enforced
(checked by schemathesis in tests/api/test_schemathesis.py)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent

# No C0/C1 control characters; free text may hold tab, LF and CR.
IDENTIFIER_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
# Not blank once surrounding whitespace is trimmed.
NON_BLANK_IDENTIFIER_PATTERN = (
    r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
)
NON_BLANK_TEXT_PATTERN = (
    r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f]"
    r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
)

ERROR_DESCRIPTIONS = {
    "400": "Malformed request: field errors keyed by field (by item index for a batch), or `detail`.",
    "401": "No or unknown credentials.",
    "403": "Authenticated but not allowed.",
    "404": "No such object visible to the caller, or a page past the end.",
    "415": "Body not sent as application/json.",
    "429": "Throttled: retry after the `Retry-After` seconds.",
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema plus the error answers of each operation."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            error = self._error_response(code)
            documented = responses.setdefault(code, error)
            documented.setdefault("content", error["content"])
        return responses

    def _error_codes(self) -> list[str]:
        codes = ["400"]
        if self.get_auth():
            codes += ["401", "403"]
        if "{" in self.path or self._is_list_view() or self.method in ("PUT", "PATCH", "DELETE"):
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("415")
        if getattr(self.view, "throttle_classes", None):
            codes.append("429")
        return codes

    def _error_response(self, code: str) -> dict:
        component = ResolvedComponent(
            name="Error",
            type=ResolvedComponent.SCHEMA,
            object="Error",
            schema={
                "type": "object",
                "description": "`detail` for request-wide errors; otherwise messages keyed by field.",
                "properties": {"detail": {"type": "string"}},
                "additionalProperties": True,
            },
        )
        self.registry.register_on_missing(component)
        response = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"schema": component.ref}},
        }
        if code == "429":
            response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
        return response


class SafeCharFieldExtension(OpenApiSerializerFieldExtension):
    """SafeCharField's refusals (control characters, blank when required) in the schema."""

    target_class = "moderation.validation.SafeCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if "pattern" in schema or schema.get("format") in ("email", "uri"):
            return schema  # a regex (handles) or a format already excludes control characters
        multiline = self.target.multiline
        if self.target.allow_blank:
            schema["pattern"] = TEXT_PATTERN if multiline else IDENTIFIER_PATTERN
        else:
            schema["pattern"] = NON_BLANK_TEXT_PATTERN if multiline else NON_BLANK_IDENTIFIER_PATTERN
        return schema
