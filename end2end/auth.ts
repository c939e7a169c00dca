import * as path from "path";

// The demo accounts scripts/test seeds (orderdesk seed-demo creates them), and where
// global-setup keeps each one's signed-in cookies.
export const DEMO = {
  admin: { email: "admin@orderdesk.demo", password: "demo-admin-password", state: path.join(__dirname, ".auth", "admin.json") },
  support: { email: "support@orderdesk.demo", password: "demo-support-password", state: path.join(__dirname, ".auth", "support.json") },
};
