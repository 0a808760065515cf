"""Canned rationales in the admin: supervisors add and change them (audited), never delete."""

from django import forms
from django.contrib import admin

from cases.models import CannedRationale
from cases.services.canned import save_canned_rationale
from moderation.models import Policy


class CannedRationaleForm(forms.ModelForm):
    policy_code = forms.ChoiceField(label="Policy")

    class Meta:
        model = CannedRationale
        fields = ["policy_code", "title", "text", "active", "position"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        codes = Policy.objects.current().order_by("code").values_list("code", "title")
        self.fields["policy_code"].choices = [(c, f"{c} · {t}") for c, t in codes]


@admin.register(CannedRationale)
class CannedRationaleAdmin(admin.ModelAdmin):
    form = CannedRationaleForm
    list_display = ["policy_code", "title", "active", "position"]
    list_filter = ["active", "policy_code"]
    search_fields = ["title", "text"]
    ordering = ["policy_code", "position", "id"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        save_canned_rationale(actor=request.user, rationale=obj, changed=form.changed_data)
