//! The two whiteout vocabularies: OCI layer tars (`.wh.` files) and overlayfs
//! upper/lower dirs (0/0 character devices, the opaque xattr).

/// Prefix of an OCI whiteout file: `.wh.name` hides `name`.
pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";
/// Prefix of aufs metadata names, which are not whiteouts of a file.
pub(crate) const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
/// The OCI opaque-directory marker: hides everything below its directory from lower layers.
pub(crate) const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// overlayfs's opaque-directory xattr (value `y`) as overlayfs reads it here: `trusted.*` as the
/// host's root, `user.*` in a user namespace (rootless; see `skiff_host::userns`).
pub(crate) fn overlay_opaque_xattr() -> &'static str {
    skiff_host::userns::overlay_opaque_xattr()
}
