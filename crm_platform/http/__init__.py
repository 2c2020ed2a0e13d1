"""What every HTTP surface shares (API, screens, admin, sign-in): the request's actor and services, JSON bodies
and error answers, and the checks on what every request brings."""
