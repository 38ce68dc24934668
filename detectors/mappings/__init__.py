"""Per-source action tables: API/method/operation names -> taxonomy categories (data, not code)."""
