"""The xAPI 1.0.3 Learning Record Store under ``/api/xapi/`` (nested app, label ``lrs``)."""
