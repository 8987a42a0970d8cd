"""Who is calling and what they may read: credentials, declared role, purpose."""
