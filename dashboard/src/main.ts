/**
 * The TEC Hub dashboard: one front-end for the pupils' kiosk (`#/`), the instructor's console
 * (`#/instructor`) and the technician's workbench (`#/technician`). Everything it needs is bundled
 * and served by the hub; it talks only to the hub that served it.
 */
import type { Unmount, View } from "./core/app.ts";
import { onUnauthorized } from "./core/api.ts";
import { LiveStore } from "./core/live-store.ts";
import { currentRoute, onRouteChange, type Route } from "./core/router.ts";
import { expire, onSessionChange, revalidate, token } from "./core/session.ts";
import { lang, onLangChange, setLang } from "./i18n/index.ts";
import { instructorView } from "./views/instructor/instructor.ts";
import { kioskView } from "./views/kiosk/kiosk.ts";
import { technicianView } from "./views/technician/technician.ts";
import "./styles/base.css";
import "./styles/kiosk.css";
import "./styles/staff.css";
import "./styles/console.css";
import "./styles/workbench.css";

const VIEWS: Record<string, View> = { "": kioskView, instructor: instructorView, technician: technicianView };

const app = document.getElementById("app") as HTMLElement;
const live = new LiveStore();
let unmount: Unmount | null = null;

function mount(route: Route): void {
  unmount?.();
  app.replaceChildren();
  const wanted = route.query.get("lang");
  if (wanted === "nl" || wanted === "en") setLang(wanted);
  const view = VIEWS[route.view] ?? kioskView;
  document.body.dataset.view = route.view === "" || VIEWS[route.view] === undefined ? "kiosk" : route.view;
  unmount = view(app, { live, route });
}

// Any 401 to a request made with the session's token: the session is over, say so.
onUnauthorized((message) => expire(message));
// The socket carries the session's token so commands over it are this person's.
onSessionChange(() => live.connect(token()));
onLangChange(() => mount(currentRoute()));
onRouteChange(mount);

setLang(lang());
live.connect(token());
mount(currentRoute());
void revalidate();
