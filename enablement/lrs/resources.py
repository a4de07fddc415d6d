"""The LRS resources besides Statements (Communication 2.3–2.7): State, Activity Profile,
Agent Profile (documents), Activities and Agents.

Documents never create activity-log events. Writes need the key scope ``events:write``,
reads ``read``; every query is by the key's tenant.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from enablement.lrs.documents import (
    KIND_ACTIVITY_PROFILE,
    KIND_AGENT_PROFILE,
    KIND_STATE,
    MAX_DOCUMENT,
    DocumentError,
    DocumentKey,
    document_delete,
    document_get,
    document_ids,
    document_put,
)
from enablement.lrs.http import xapi_endpoint
from enablement.lrs.mapping import actor_key
from enablement.lrs.models import Activity
from enablement.lrs.validation import IFI_KEYS, XapiInvalid, _iri, parse_timestamp, validate_agent
from enablement.lrs.views import VERSION_PARAM, LrsView


def _bad(reason: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": reason}, status=code)


def _agent_param(params, name: str = "agent") -> dict[str, Any]:
    if name not in params:
        raise XapiInvalid(f"{name} is required")
    try:
        agent = json.loads(params[name])
    except (ValueError, RecursionError) as exc:
        raise XapiInvalid(f"{name} must be a JSON Agent") from exc
    validate_agent(agent, name)
    if not any(k in agent for k in IFI_KEYS):
        raise XapiInvalid(f"{name} must be an Agent (or an identified Group)")
    return agent


def _activity_param(params, name: str = "activityId") -> str:
    if name not in params:
        raise XapiInvalid(f"{name} is required")
    return _iri(params[name], name)


def _registration_param(params) -> str:
    if "registration" not in params:
        return ""
    try:
        return str(uuid.UUID(params["registration"]))
    except ValueError as exc:
        raise XapiInvalid("registration must be a UUID") from exc


def _since_param(params):
    if "since" not in params:
        return None
    when = parse_timestamp(params["since"], "since")
    return when if timezone.is_aware(when) else timezone.make_aware(when, timezone.UTC)


def _only(params, allowed: set[str]) -> None:
    unknown = set(params) - allowed
    if unknown:
        raise XapiInvalid(f"Unexpected parameters: {', '.join(sorted(unknown))}")


def _document_response(doc) -> HttpResponse:
    response = HttpResponse(bytes(doc.content), content_type=doc.content_type)
    response["ETag"] = doc.etag
    response["Last-Modified"] = http_date(doc.updated.timestamp())
    return response


class DocumentView(LrsView):
    """One document resource; subclasses say how the key and the document id are read."""

    id_param = ""
    allowed: set[str] = set()
    delete_all = False
    require_precondition = False

    def key(self, params) -> DocumentKey:
        """The document's key from the query (agent/activity/registration); each resource defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define key(params)")

    def _body(self, request) -> tuple[bytes, str]:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_DOCUMENT:
            raise DocumentError(413, f"A document may have at most {MAX_DOCUMENT} bytes")
        content_type = request.META.get("CONTENT_TYPE") or "application/octet-stream"
        return request.body, content_type

    def _write(self, request, *, merge: bool):
        params = request.query_params
        try:
            _only(params, self.allowed - {"since"})
            key = self.key(params)
            if self.id_param not in params:
                raise XapiInvalid(f"{self.id_param} is required")
            content, content_type = self._body(request)
            document_put(
                tenant=self.tenant,
                key=key,
                document_id=params[self.id_param][:500],
                content=content,
                content_type=content_type,
                merge=merge,
                if_match=request.headers.get("If-Match"),
                if_none_match=request.headers.get("If-None-Match"),
                require_precondition=self.require_precondition,
            )
        except XapiInvalid as exc:
            return _bad(str(exc))
        except DocumentError as exc:
            return _bad(exc.reason, exc.status)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def put(self, request):
        return self._write(request, merge=False)

    def post(self, request):
        return self._write(request, merge=True)

    def get(self, request):
        params = request.query_params
        try:
            _only(params, self.allowed)
            key = self.key(params)
            if self.id_param in params:
                if "since" in params:
                    raise XapiInvalid(f"since cannot be combined with {self.id_param}")
                doc = document_get(tenant=self.tenant, key=key, document_id=params[self.id_param][:500])
                if doc is None:
                    return _bad("No such document", status.HTTP_404_NOT_FOUND)
                return _document_response(doc)
            ids = document_ids(tenant=self.tenant, key=key, since=_since_param(params))
        except XapiInvalid as exc:
            return _bad(str(exc))
        return Response(ids)

    def delete(self, request):
        params = request.query_params
        try:
            _only(params, self.allowed - {"since"})
            key = self.key(params)
            if self.id_param not in params and not self.delete_all:
                raise XapiInvalid(f"{self.id_param} is required")
            document_delete(
                tenant=self.tenant,
                key=key,
                document_id=params[self.id_param][:500] if self.id_param in params else None,
                if_match=request.headers.get("If-Match"),
                if_none_match=request.headers.get("If-None-Match"),
            )
        except XapiInvalid as exc:
            return _bad(str(exc))
        except DocumentError as exc:
            return _bad(exc.reason, exc.status)
        return Response(status=status.HTTP_204_NO_CONTENT)


DOC_RESPONSES = {
    200: OpenApiResponse(description="The document (GET with an id) or a JSON array of ids"),
    204: OpenApiResponse(description="Stored / deleted"),
    400: OpenApiResponse(description="Bad parameters"),
    404: OpenApiResponse(description="No such document"),
    409: OpenApiResponse(
        description="The document exists and no If-Match / If-None-Match was sent (profiles)"
    ),
    412: OpenApiResponse(description="If-Match / If-None-Match failed"),
}


@extend_schema(
    tags=["xapi"],
    summary="State resource (learner state per activity, agent and registration)",
    parameters=[
        VERSION_PARAM,
        OpenApiParameter("activityId", OpenApiTypes.URI, required=True),
        OpenApiParameter("agent", OpenApiTypes.STR, required=True, description="JSON Agent"),
        OpenApiParameter("registration", OpenApiTypes.UUID),
        OpenApiParameter("stateId", OpenApiTypes.STR),
        OpenApiParameter("since", OpenApiTypes.DATETIME),
    ],
    request=OpenApiTypes.BINARY,
    responses=DOC_RESPONSES,
)
class StateView(DocumentView):
    id_param = "stateId"
    allowed = {"activityId", "agent", "registration", "stateId", "since"}
    delete_all = True

    def key(self, params) -> DocumentKey:
        activity = _activity_param(params)
        agent = _agent_param(params)
        return DocumentKey(
            KIND_STATE,
            activity_id=activity[:1000],
            agent_key=actor_key(agent)[:500],
            registration=_registration_param(params),
        )


@extend_schema(
    tags=["xapi"],
    summary="Activity Profile resource",
    parameters=[
        VERSION_PARAM,
        OpenApiParameter("activityId", OpenApiTypes.URI, required=True),
        OpenApiParameter("profileId", OpenApiTypes.STR),
        OpenApiParameter("since", OpenApiTypes.DATETIME),
    ],
    request=OpenApiTypes.BINARY,
    responses=DOC_RESPONSES,
)
class ActivityProfileView(DocumentView):
    id_param = "profileId"
    allowed = {"activityId", "profileId", "since"}
    require_precondition = True

    def key(self, params) -> DocumentKey:
        return DocumentKey(KIND_ACTIVITY_PROFILE, activity_id=_activity_param(params)[:1000])


@extend_schema(
    tags=["xapi"],
    summary="Agent Profile resource",
    parameters=[
        VERSION_PARAM,
        OpenApiParameter("agent", OpenApiTypes.STR, required=True, description="JSON Agent"),
        OpenApiParameter("profileId", OpenApiTypes.STR),
        OpenApiParameter("since", OpenApiTypes.DATETIME),
    ],
    request=OpenApiTypes.BINARY,
    responses=DOC_RESPONSES,
)
class AgentProfileView(DocumentView):
    id_param = "profileId"
    allowed = {"agent", "profileId", "since"}
    require_precondition = True

    def key(self, params) -> DocumentKey:
        return DocumentKey(KIND_AGENT_PROFILE, agent_key=actor_key(_agent_param(params))[:500])


class ActivitiesView(LrsView):
    @extend_schema(
        tags=["xapi"],
        summary="Activities resource: the canonical Activity object",
        parameters=[VERSION_PARAM, OpenApiParameter("activityId", OpenApiTypes.URI, required=True)],
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiResponse(description="Bad parameters"),
            404: OpenApiResponse(description="Unknown"),
        },
    )
    def get(self, request):
        params = request.query_params
        try:
            _only(params, {"activityId"})
            activity_id = _activity_param(params)
        except XapiInvalid as exc:
            return _bad(str(exc))
        row = Activity.objects.filter(tenant=self.tenant, activity_id=activity_id[:1000]).first()
        if row is None:
            return _bad("No such activity", status.HTTP_404_NOT_FOUND)
        out: dict[str, Any] = {"objectType": "Activity", "id": row.activity_id}
        if row.definition:
            out["definition"] = row.definition
        return Response(out)


class AgentsView(LrsView):
    @extend_schema(
        tags=["xapi"],
        summary="Agents resource: the Person object of an agent",
        parameters=[
            VERSION_PARAM,
            OpenApiParameter("agent", OpenApiTypes.STR, required=True, description="JSON Agent"),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="Bad parameters")},
    )
    def get(self, request):
        params = request.query_params
        try:
            _only(params, {"agent"})
            agent = _agent_param(params)
        except XapiInvalid as exc:
            return _bad(str(exc))
        person: dict[str, Any] = {"objectType": "Person"}
        if isinstance(agent.get("name"), str):
            person["name"] = [agent["name"]]
        for k in IFI_KEYS:
            if k in agent:
                person[k] = [agent[k]]
        return Response(person)


state_view = xapi_endpoint(StateView.as_view())
activity_profile_view = xapi_endpoint(ActivityProfileView.as_view())
agent_profile_view = xapi_endpoint(AgentProfileView.as_view())
activities_view = xapi_endpoint(ActivitiesView.as_view())
agents_view = xapi_endpoint(AgentsView.as_view())
