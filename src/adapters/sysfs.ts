// Cheap reads of the host's live state through /sys and /run/netns: no process spawns,
// so the hook's validation stays fast.
import { existsSync } from "node:fs";

export const linkExists = (ifname: string): boolean => existsSync(`/sys/class/net/${ifname}`);
export const isBridge = (ifname: string): boolean => existsSync(`/sys/class/net/${ifname}/bridge`);
export const netnsExists = (netns: string): boolean => existsSync(`/run/netns/${netns}`);
