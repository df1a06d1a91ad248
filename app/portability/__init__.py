"""Import from LinkedIn, Google Contacts and vCard files; export everything an owner has."""
