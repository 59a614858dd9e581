// Endpoint names on the chaos network (the fault proxy's and the netns network's link ends).

/** The endpoint name of the runner's clients. */
export const CLIENT_ENDPOINT = 'client';

/** The endpoint name of node `nodeId`. */
export function endpointOf(nodeId: number): string {
  return `n${nodeId}`;
}
