/// Error text for logs with any password removed: libpq and URL-bearing errors can quote the
/// connection string they failed with.
func redacted(_ error: any Error) -> String {
    DatabaseLocation.redact(String(describing: error))
}
