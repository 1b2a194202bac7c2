"""The screen element model: accessibility tree + visual parse, one picture of the screen's
elements that fill, record, replay, the risky-action gate and the model prompt all share.

``model`` (Element, ScreenModel) and ``ground`` (queries by role and name) are the layer's API; the
sources (``a11y``, ``visual``) and ``merge`` build snapshots. Nothing here imports fill, record,
replay or the CLI.
"""
