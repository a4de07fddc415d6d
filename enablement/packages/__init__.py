"""Packaged courses (label ``packages``): a training asset with a SCORM 1.2, SCORM 2004 or cmi5 zip attached.

* ``manifest`` reads ``imsmanifest.xml`` / ``cmi5.xml`` with a parser that resolves no entities and
  fetches nothing; ``unpack`` checks every zip entry and extracts into one folder per package on the
  private storage (nothing outside it, nothing left on failure).
* ``views.content`` serves the files from ``/packages/c/<token>/<path>``: the token is signed, expiring
  and bound to the user, the package and the attempt; responses carry ``Content-Security-Policy:
  sandbox`` so the package's documents have an opaque origin (no portal cookies, no portal API).
* SCORM content talks to the vendored scorm-again runtime injected into its own window; commits are
  relayed by postMessage to the portal page, which posts them with CSRF to ``services.attempt_commit``.
  The mapping to the activity log (``training.*`` verbs through ``enablement.services.log``) lives in
  ``services``, so packaged courses count in every KPI like videos.
"""
