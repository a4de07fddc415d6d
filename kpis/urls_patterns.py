"""URL module filled by its feature (see prm/urls.py)."""

urlpatterns: list = []
