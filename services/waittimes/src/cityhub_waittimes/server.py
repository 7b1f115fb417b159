"""The gRPC face of waittimes: decode the request, call one use case, encode the answer."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from cityhub.waittimes.v1 import waittimes_pb2 as pb
from cityhub.waittimes.v1 import waittimes_pb2_grpc
from cityhub_sdk.auth import current_caller

from cityhub_waittimes.messages import check_in_message
from cityhub_waittimes.service import WaitTimesService

Context: TypeAlias = grpc.aio.ServicerContext


class WaitTimesServicer(waittimes_pb2_grpc.WaitTimesServiceServicer):
    def __init__(self, service: WaitTimesService) -> None:
        self.service = service

    async def RecordQueueEvents(
        self, request: pb.RecordQueueEventsRequest, context: Context
    ) -> pb.RecordQueueEventsResponse:
        result = await self.service.record_events(current_caller(), request.center_id, list(request.events))
        return pb.RecordQueueEventsResponse(
            accepted=result.accepted, duplicates=result.duplicates, too_late=result.too_late
        )

    async def ImportQueueHistory(
        self, request: pb.ImportQueueHistoryRequest, context: Context
    ) -> pb.ImportQueueHistoryResponse:
        imported = await self.service.import_history(current_caller(), request.center_id, list(request.hours))
        return pb.ImportQueueHistoryResponse(imported=imported)

    async def ListQueueStates(self, request: pb.ListQueueStatesRequest, context: Context) -> pb.ListQueueStatesResponse:
        return pb.ListQueueStatesResponse(queues=await self.service.states())

    async def GetCenterWaitTimes(
        self, request: pb.GetCenterWaitTimesRequest, context: Context
    ) -> pb.GetCenterWaitTimesResponse:
        return pb.GetCenterWaitTimesResponse(queues=await self.service.states(request.center_id))

    async def GetBusyHours(self, request: pb.GetBusyHoursRequest, context: Context) -> pb.GetBusyHoursResponse:
        return await self.service.busy_hours(request.center_id, request.days)

    async def CreateCheckIn(self, request: pb.CreateCheckInRequest, context: Context) -> pb.CreateCheckInResponse:
        row = await self.service.create_check_in(
            current_caller(),
            request.center_id,
            request.queue,
            appointment=request.appointment,
            idempotency_key=request.idempotency_key,
        )
        return pb.CreateCheckInResponse(check_in=check_in_message(row))

    async def CancelCheckIn(self, request: pb.CancelCheckInRequest, context: Context) -> pb.CancelCheckInResponse:
        row = await self.service.cancel_check_in(current_caller(), request.check_in_id)
        return pb.CancelCheckInResponse(check_in=check_in_message(row))

    async def ListCheckIns(self, request: pb.ListCheckInsRequest, context: Context) -> pb.ListCheckInsResponse:
        rows = await self.service.list_check_ins(current_caller(), active_only=request.active_only)
        return pb.ListCheckInsResponse(check_ins=[check_in_message(r) for r in rows])
