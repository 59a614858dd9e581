"""A plain Python gRPC client of the public API that never sets an epoch field (as a client in another
language or grpcurl does): produce through the convenience `records` path, list offsets, and fetch past
the log end. Message classes come from `protoc --python_out` (run by the test); the calls go through
grpc's generic unary API, so no grpc code generator plugin is needed.

usage: omitting_client.py GENERATED_DIR ADDRESS TOPIC PARTITION
prints one JSON object: {"produce": CODE, "listOffsets": CODE, "fetch": CODE, "fetchDiverging": bool, "logEnd": int}
"""
import json
import sys


def main():
    generated_dir, address, topic, partition = sys.argv[1:5]
    partition = int(partition)
    sys.path.insert(0, generated_dir)
    import grpc
    from tributary.v1 import broker_pb2, common_pb2

    def unary(channel, method, response_class):
        return channel.unary_unary(f"/tributary.v1.Broker/{method}",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=response_class.FromString)

    name = common_pb2.ErrorCode.Name
    with grpc.insecure_channel(address) as channel:
        produce = unary(channel, "Produce", broker_pb2.ProduceResponse)
        list_offsets = unary(channel, "ListOffsets", broker_pb2.ListOffsetsResponse)
        fetch = unary(channel, "Fetch", broker_pb2.FetchResponse)
        produced = produce(broker_pb2.ProduceRequest(acks=-1, timeout_ms=5000, topics=[broker_pb2.ProduceTopicData(
            topic=topic, partitions=[broker_pb2.ProducePartitionData(partition=partition, records=[
                common_pb2.Record(value=b"from python", has_value=True)])])]), timeout=10)
        p = produced.topics[0].partitions[0]
        listed = list_offsets(broker_pb2.ListOffsetsRequest(topics=[broker_pb2.ListOffsetsTopic(
            topic=topic, partitions=[broker_pb2.ListOffsetsPartition(partition=partition, spec=broker_pb2.LATEST)])]), timeout=10)
        lp = listed.topics[0].partitions[0]
        fetched = fetch(broker_pb2.FetchRequest(max_wait_ms=0, topics=[broker_pb2.FetchTopic(
            topic=topic, partitions=[broker_pb2.FetchPartition(partition=partition, fetch_offset=lp.offset + 1000)])]), timeout=10)
        fp = fetched.topics[0].partitions[0]
        print(json.dumps({
            "produce": name(p.error.code), "listOffsets": name(lp.error.code), "logEnd": lp.offset,
            "fetch": name(fp.error.code), "fetchDiverging": fp.HasField("diverging_epoch"),
        }))


if __name__ == "__main__":
    main()
