"""Reading a package's manifest: ``imsmanifest.xml`` (SCORM 1.2, SCORM 2004 3rd/4th edition) or
``cmi5.xml`` (cmi5), with an XML parser that resolves no entities, loads no DTD and fetches nothing.

The result names the standard, its edition, the title and the launch file (a path inside the
package, plus any query string the manifest gives it)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from lxml import etree

from enablement.packages.models import Standard

SCORM_MANIFEST = "imsmanifest.xml"
CMI5_MANIFEST = "cmi5.xml"
MANIFEST_MAX_BYTES = 2 * 1024 * 1024

_ADLCP_12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
_ADLCP_2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


@dataclass(frozen=True)
class Manifest:
    standard: str
    edition: str
    title: str
    launch_path: str  # a file inside the package (normalised, no leading slash)
    launch_query: str = ""
    mastery_score: float | None = None
    activity_id: str = ""  # cmi5: the AU's id
    move_on: str = ""  # cmi5: the AU's moveOn


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        remove_comments=True, remove_pis=True,
    )


def _parse(data: bytes, name: str):
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise ValidationError(
            _("%(name)s declares a DTD or entities, which are not accepted.") % {"name": name}, code="manifest_dtd"
        )
    try:
        return etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise ValidationError(
            _("%(name)s is not well-formed XML (%(error)s).") % {"name": name, "error": str(exc)[:200]},
            code="manifest_xml",
        ) from exc


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _children(el, name: str):
    return [c for c in el if _local(c.tag) == name]


def _first(el, name: str):
    found = _children(el, name)
    return found[0] if found else None


def _text(el) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def _launch(href: str, base: str = "") -> tuple[str, str]:
    """Split ``href`` (relative to ``base``) into a normalised package path and its query string."""
    parts = urlsplit(href.strip())
    if parts.scheme or parts.netloc:
        raise ValidationError(
            _("The launch file must be inside the package, not an address on the web (%(href)s).") % {"href": href[:200]},
            code="manifest_external_launch",
        )
    path = posixpath.normpath(posixpath.join(base, unquote(parts.path))) if parts.path else ""
    if not path or path.startswith(("/", "..")) or path == ".":
        raise ValidationError(_("The manifest's launch file is not a file inside the package."), code="manifest_launch")
    return path, parts.query


def parse_scorm(data: bytes) -> Manifest:
    root = _parse(data, SCORM_MANIFEST)
    if _local(root.tag) != "manifest":
        raise ValidationError(_("imsmanifest.xml has no <manifest> root element."), code="manifest_root")
    namespaces = set(root.nsmap.values()) | {v for el in root.iter() if isinstance(el.tag, str) for v in el.nsmap.values()}
    metadata = _first(root, "metadata")
    schema = _text(_first(metadata, "schema")) if metadata is not None else ""
    version = _text(_first(metadata, "schemaversion")) if metadata is not None else ""
    low = version.lower()
    if low == "1.2" or (not version and _ADLCP_12 in namespaces):
        standard, edition = Standard.SCORM12, "1.2"
    elif "2004" in low or low == "cam 1.3" or (not version and _ADLCP_2004 in namespaces):
        standard = Standard.SCORM2004
        edition = "4th Edition" if "4th" in low else "3rd Edition" if "3rd" in low else "2nd Edition" if low == "cam 1.3" else version
    else:
        raise ValidationError(
            _("imsmanifest.xml names no SCORM version this portal runs (SCORM 1.2 or SCORM 2004); it says “%(v)s”.")
            % {"v": f"{schema} {version}".strip() or "-"},
            code="manifest_version",
        )
    resources_el = _first(root, "resources")
    resources = {}
    if resources_el is not None:
        base = resources_el.get(_XML_BASE, "")
        for res in _children(resources_el, "resource"):
            resources[res.get("identifier", "")] = (res, posixpath.join(base, res.get(_XML_BASE, "")))
    organizations = _first(root, "organizations")
    org = None
    if organizations is not None:
        orgs = _children(organizations, "organization")
        default = organizations.get("default", "")
        org = next((o for o in orgs if o.get("identifier") == default), orgs[0] if orgs else None)
    title = _text(_first(org, "title")) if org is not None else ""
    mastery = None
    chosen = None
    if org is not None:
        for item in org.iter():
            if _local(item.tag) != "item" or not item.get("identifierref"):
                continue
            res = resources.get(item.get("identifierref"))
            if res is not None and res[0].get("href"):
                chosen = (res, item.get("parameters", ""))
                mastery_el = _first(item, "masteryscore")
                if mastery_el is not None:
                    try:
                        mastery = float(_text(mastery_el))
                    except ValueError:
                        mastery = None
                break
    if chosen is None:  # no organisation: the first SCO (or first launchable) resource
        for res in resources.values():
            kind = next((v for k, v in res[0].attrib.items() if _local(k).lower() == "scormtype"), "")
            if res[0].get("href") and kind.lower() == "sco":
                chosen = (res, "")
                break
    if chosen is None:
        raise ValidationError(_("imsmanifest.xml names no launchable resource (a SCO with an href)."), code="manifest_launch")
    (res, base), parameters = chosen
    path, query = _launch(res.get("href"), base)
    parameters = parameters.strip().lstrip("?&")
    if parameters:
        query = f"{query}&{parameters}" if query else parameters
    return Manifest(standard=standard, edition=edition, title=title[:300], launch_path=path, launch_query=query,
                    mastery_score=mastery)


def parse_cmi5(data: bytes) -> Manifest:
    root = _parse(data, CMI5_MANIFEST)
    if _local(root.tag) != "courseStructure":
        raise ValidationError(_("cmi5.xml has no <courseStructure> root element."), code="manifest_root")
    course = _first(root, "course")
    title_el = _first(course, "title") if course is not None else None
    title = _text(_first(title_el, "langstring")) if title_el is not None else ""
    aus = [el for el in root.iter() if _local(el.tag) == "au"]
    if not aus:
        raise ValidationError(_("cmi5.xml names no assignable unit (<au>)."), code="manifest_launch")
    au = aus[0]
    url = _text(_first(au, "url"))
    if not url or not au.get("id"):
        raise ValidationError(_("The first assignable unit in cmi5.xml has no id or no url."), code="manifest_launch")
    path, query = _launch(url)
    mastery = None
    if au.get("masteryScore"):
        try:
            mastery = float(au.get("masteryScore"))
        except ValueError:
            mastery = None
    au_title_el = _first(au, "title")
    au_title = _text(_first(au_title_el, "langstring")) if au_title_el is not None else ""
    return Manifest(
        standard=Standard.CMI5, edition="", title=(title or au_title)[:300], launch_path=path, launch_query=query,
        mastery_score=mastery, activity_id=au.get("id")[:1000], move_on=au.get("moveOn") or "NotApplicable",
    )
