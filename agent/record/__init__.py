"""Recording a person (``recorder``: the threads; ``frames``: capture and "before" frames; ``listen``:
input events; ``merge``: events into steps; ``labelling``, ``labels``, ``label_runner``: writing and
labelling steps), replaying it on a changed screen (``replay``, ``anchors``) and exporting it as a
fill script (``export``)."""
