"""Where files are: the destination's ``Storage`` (a local folder or an S3 bucket), destination URIs, and the
public bucket the files are copied from."""
