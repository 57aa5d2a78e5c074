"""Typed settings: config/default.toml, then POSSYNC_<SECTION>_<KEY> environment overrides."""
