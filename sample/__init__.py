"""The sample mesh's own code: TPC-H data for the landing zone. Not part of the platform."""
