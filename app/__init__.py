"""The app layer: Streamlit glue between the pages and the layers below (metrics, ingest, report):
the shared sidebar and cached metric call (`ui`), charts, uploads, access and local users.

Layers import only downward (tests/test_layers.py enforces it):
foundation (`sustain`: config, db, pseudonym, xlsx, samples) < `ingest`, `metrics` < `report` < `app` < `pages`.
"""
