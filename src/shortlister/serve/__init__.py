"""The HTTP API and the recruiter page: `create_app(settings)`, `shortlister serve`."""
