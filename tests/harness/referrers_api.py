"""A loopback registry that has the referrers API, which our real registry (distribution 2.8) lacks.

It implements only what the API path needs, per the OCI distribution spec v1.1: manifests by digest
or tag (PUT, GET, HEAD; a PUT of a manifest with a ``subject`` is answered with ``OCI-Subject``, as
"Pushing Manifests with Subject" asks of a registry that processes it) and "Listing Referrers":
``GET /v2/<name>/referrers/<digest>[?artifactType=]`` answers an image index of the manifests whose
``subject`` is that digest (each entry with ``artifactType`` and ``annotations``), filtered when asked
and then saying so with ``OCI-Filters-Applied: artifactType``; more than ``page_size`` entries
are paginated with ``Link: <...>; rel="next"``. Blobs are not kept: tests push
manifests only. Serve it with :class:`harness.stub.StubServer` (``StubServer(api.answer)``).

``ReferrersAPI(api=False)`` is a registry *without* the API (the referrers endpoint answers 404, a
PUT gets no ``OCI-Subject``) that honours conditional requests instead: manifests are sent with an
``ETag`` (their digest, quoted) and a PUT whose ``If-Match`` names another version of the tag than
the current one is refused with 412 (RFC 9110 13.1.1). ``before_put`` (a test's hook) runs before
each PUT is processed, e.g. to play another writer.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

from harness.stub import Reply, StubRequest

INDEX = "application/vnd.oci.image.index.v1+json"
_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_REFERRERS = re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$")


class ReferrersAPI:
    def __init__(self, *, api: bool = True, page_size: int = 100) -> None:
        self.api = api
        self.page_size = page_size
        self._lock = threading.Lock()
        self.manifests: dict[str, tuple[str, bytes]] = {}  # digest -> (media type, content)
        self.tags: dict[str, str] = {}
        self.before_put: Callable[[str], None] = lambda _ref: None
        self.refused: list[str] = []  # the references of PUTs answered 412

    def answer(self, request: StubRequest) -> Reply:
        url = urlsplit(request.path)
        if url.path == "/v2/":
            return Reply(200, {"Content-Length": "2"}, b"{}")
        if (m := _REFERRERS.match(url.path)) and self.api:
            query = parse_qs(url.query)
            artifact_type = query.get("artifactType", [None])[0]
            return self._referrers(m["name"], m["digest"], artifact_type, query.get("page", [None])[0])
        if m := _MANIFEST.match(url.path):
            if request.method == "PUT":
                return self._put(m["ref"], request)
            return self._get(m["ref"], body=request.method == "GET")
        return Reply(404, {"Content-Length": "0"})

    def put(self, ref: str, media_type: str, body: bytes) -> str:
        """Store a manifest (and tag it, unless ``ref`` is a digest); returns its digest."""
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        with self._lock:
            self.manifests[digest] = (media_type, body)
            if not ref.startswith("sha256:"):
                self.tags[ref] = digest
        return digest

    def _put(self, ref: str, request: StubRequest) -> Reply:
        self.before_put(ref)
        expected = _header(request, "If-Match")
        with self._lock:
            current = self.tags.get(ref)
        if not self.api and expected is not None and expected != f'"{current}"':
            self.refused.append(ref)
            return Reply(412, {"Content-Length": "0"})
        digest = self.put(ref, request.headers.get("Content-Type", ""), request.body)
        headers = {"Docker-Content-Digest": digest, "Content-Length": "0"}
        subject = json.loads(request.body).get("subject")
        if subject is not None and self.api:
            headers["OCI-Subject"] = subject["digest"]
        return Reply(201, headers)

    def _get(self, ref: str, *, body: bool) -> Reply:
        with self._lock:
            digest = self.tags.get(ref, ref)
            found = self.manifests.get(digest)
        if found is None:
            return Reply(404, {"Content-Length": "0"})
        media_type, content = found
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest, "ETag": f'"{digest}"'}
        headers["Content-Length"] = str(len(content))
        return Reply(200, headers, content if body else b"")

    def _referrers(self, name: str, subject: str, artifact_type: str | None, page: str | None) -> Reply:
        entries = []
        with self._lock:
            stored = list(self.manifests.items())
        for digest, (media_type, content) in stored:
            manifest = json.loads(content)
            if (manifest.get("subject") or {}).get("digest") != subject:
                continue
            kind = manifest.get("artifactType") or manifest["config"]["mediaType"]
            if artifact_type is not None and kind != artifact_type:
                continue
            entry = {"mediaType": media_type, "digest": digest, "size": len(content), "artifactType": kind}
            if manifest.get("annotations"):
                entry["annotations"] = manifest["annotations"]
            entries.append(entry)
        start = int(page or 0)
        shown = entries[start : start + self.page_size]
        body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": shown}).encode()
        headers = {"Content-Type": INDEX, "Content-Length": str(len(body))}
        if start + self.page_size < len(entries):
            query = urlencode(
                {"page": start + self.page_size, **({"artifactType": artifact_type} if artifact_type else {})}
            )
            headers["Link"] = f'</v2/{name}/referrers/{subject}?{query}>; rel="next"'

        if artifact_type is not None:
            headers["OCI-Filters-Applied"] = "artifactType"
        return Reply(200, headers, body)


def _header(request: StubRequest, name: str) -> str | None:
    return next((v for k, v in request.headers.items() if k.lower() == name.lower()), None)
