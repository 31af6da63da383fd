"""The sign-in center's web side (issue 11): the OpenID Connect provider on Authlib and the hosted pages
on Jinja2. Only the center function imports this package; Authlib and Jinja2 come from its own layer
(``layers/center``), so no other function loads them or grows its cold start.
"""
