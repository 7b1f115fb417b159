"""cityhub_sdk: the one library every CityHub service and department service is built on.

It fixes the start-up order (settings, logging, telemetry, database, NATS, gRPC server with health,
consumers) so that a newcomer who knows one service knows them all.
"""
