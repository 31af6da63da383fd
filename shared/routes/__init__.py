"""The API's routes, one Powertools ``Router`` per resource (API.md sections 2-6).

Each route declares its body, query and path parameters (validated by Powertools), its caller
(``http.Me``), its requirement (``http.requires``) and its answer (``http.answers`` with a model of
``shared.views``). A compatibility route of API.md section 5 that behaves like a canonical one is one
more decorator on the canonical handler. A function serves a resource by including its router
(``functions/*/app.py``) and declaring its events in ``template.yaml``.
"""
