"""The web portal: server-rendered pages over the same `kb` services and permission checks as the JSON API."""
