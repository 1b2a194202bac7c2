"""Recording a person (``recorder``, ``merge``), replaying it on a changed screen (``replay``,
``anchors``) and exporting it as a fill script (``export``)."""
