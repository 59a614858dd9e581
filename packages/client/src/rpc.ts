// Unary gRPC calls with a deadline, and the mapping of gRPC failures to typed client errors.
import * as grpc from '@grpc/grpc-js';
import {
  ClientClosedError, ConnectionError, MessageTooLargeError, RequestTimeoutError, RpcError,
  UnsupportedOperationError, type TributaryClientError,
} from './errors.js';

type UnaryMethod<Req, Res> = (request: Req, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

/** Calls `method` on `client` with a `timeoutMs` deadline; rejects with a typed client error. */
export function unary<Req, Res>(args: {
  client: grpc.Client;
  method: UnaryMethod<Req, Res>;
  request: Req;
  timeoutMs: number;
  address: string;
  name: string;
  /** Tracks the call while it is pending (so a forced close can cancel it). */
  activeCalls?: Set<grpc.ClientUnaryCall>;
}): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const deadline = new Date(Date.now() + args.timeoutMs);
    const call = args.method.call(args.client, args.request, { deadline }, (error, response) => {
      args.activeCalls?.delete(call);
      if (error !== null && error !== undefined) reject(mapGrpcError(error, args.address, args.name, args.timeoutMs));
      else if (response === undefined) reject(new RpcError(`${args.name} to ${args.address}: empty response`, grpc.status.INTERNAL, false));
      else resolve(response);
    });
    args.activeCalls?.add(call);
  });
}

export function mapGrpcError(error: grpc.ServiceError, address: string, name: string, timeoutMs: number): TributaryClientError {
  switch (error.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new RequestTimeoutError(`${name} to ${address} exceeded request.timeout.ms=${timeoutMs}`, error);
    case grpc.status.UNAVAILABLE:
      return new ConnectionError(address, error);
    case grpc.status.CANCELLED:
      return new ClientClosedError(`${name} to ${address} (call cancelled)`);
    case grpc.status.UNIMPLEMENTED:
      return new UnsupportedOperationError(name, error);
    case grpc.status.RESOURCE_EXHAUSTED:
      return new MessageTooLargeError(`${name} to ${address}: ${error.details}`, -1, -1, error);
    default:
      return new RpcError(`${name} to ${address} failed: ${grpc.status[error.code] ?? error.code}: ${error.details}`,
        error.code, false, error);
  }
}
