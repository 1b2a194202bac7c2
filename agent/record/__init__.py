"""Recording a person (``recorder``: the threads; ``frames``: capture and "before" frames; ``listen``:
input events; ``merge``: events into steps; ``watch``: the accessibility tree read per screen state;
``labelling``, ``labels``, ``label_runner``: writing and labelling steps; ``locators``: what a step
keeps about its element and its effect), replaying it on a changed screen (``replay``; ``resolve``:
the element and the identity checks; ``pixels``, ``anchors``: crops and text anchors; ``repair``:
awaited effects and the calendar repair; ``heal``: the agent loop for what cannot be found;
``variables``: ``--var``) and exporting it as a fill script (``export``)."""
