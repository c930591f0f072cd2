"""Token authentication for API clients: obtain a token with a password, revoke it with DELETE.

Session authentication works too, for the site's own JavaScript.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from movierec.api_errors import JsonApiMixin, error_responses

TOKEN_EXAMPLE = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"


class CredentialField(serializers.CharField):
    """Taken verbatim: no trimming, and a NUL is simply a wrong credential (401), not a 400."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CredentialsSerializer(serializers.Serializer):
    username = CredentialField(max_length=150)
    password = CredentialField(max_length=4096, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send it as the header "Authorization: Token <token>".')
    username = serializers.CharField()


def _locked_out(request: Request) -> bool:
    """django-axes (when installed) flags a locked-out username+address on the request.

    The flag is cleared once read, so that axes' middleware leaves the answer to this
    view: a 429 in the API's own error shape rather than axes' HTML page.
    """
    django_request = request._request
    locked = bool(getattr(django_request, "axes_locked_out", False))
    if locked:
        django_request.axes_locked_out = False
    return locked


def _cool_off_seconds(request: Request) -> float | None:
    try:
        from axes.helpers import get_cool_off
    except ImportError:
        return None
    cool_off = get_cool_off(request._request)
    return cool_off.total_seconds() if cool_off else None


class TokenView(JsonApiMixin, APIView):
    def get_permissions(self) -> list:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_obtain",
        summary="Obtain an API token",
        description=(
            "Exchanges a username and password for the user's token (the same token until revoked). "
            "Wrong credentials or an inactive account give 401; repeated failures for one username from one "
            "address give 429 until a cool-off ends."
        ),
        request=CredentialsSerializer,
        responses={200: TokenSerializer, **error_responses(400, 413, 415)},
        auth=[],
        examples=[
            OpenApiExample("Credentials", request_only=True, value={"username": "alice", "password": "correct horse"}),
            OpenApiExample("A token", response_only=True, value={"token": TOKEN_EXAMPLE, "username": "alice"}),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        password = serializer.validated_data["password"]
        user = None
        if "\x00" not in username + password:
            user = authenticate(request=request._request, username=username, password=password)
        if _locked_out(request):
            raise Throttled(wait=_cool_off_seconds(request), detail="Too many failed logins for this username from your address.")
        if user is None or not user.is_active:
            raise AuthenticationFailed("Unable to log in with the provided credentials.")
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "username": user.get_username()})

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_revoke",
        summary="Revoke your API token",
        description="Deletes the token of the authenticated user; the next POST issues a new one.",
        request=None,
        responses={204: OpenApiResponse(description="Revoked (also when there was no token)."), **error_responses()},
    )
    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
