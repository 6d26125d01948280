// The sign-in form: the API sets the session cookie, then on to where the person was going.
"use strict";

// Only a path on this site: never "//host", "/\host" (a backslash is a slash to browsers),
// a scheme, control characters (browsers drop tabs and newlines), nor those percent-encoded.
// The server has checked PAGE.next already; this is the same rule, in case it did not.
function samePath(next) {
  if (typeof next !== "string" || next.length > 2000) return null;
  let decoded;
  try {
    decoded = decodeURIComponent(next);
  } catch (_error) {
    return null;
  }
  const path = /^\/(?![/\\])[^\\\u0000-\u001f\u007f]*$/;
  if (!path.test(next) || !path.test(decoded)) return null;
  return new URL(next, location.origin).origin === location.origin ? next : null;
}

function refusal(error) {
  if (error.status === 429) return `${t("sign_in.throttled")} (${error.message})`;
  return t("sign_in.refused");
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("sign-in-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showMessage("sign-in-error", "");
    const data = new FormData(form);
    try {
      const me = await api("/api/auth/sign-in", {
        method: "POST",
        body: { username: data.get("username"), password: data.get("password") },
      });
      const next = samePath(PAGE.next);
      location.assign(next || (me.role === "community_worker" ? "/worker" : "/console"));
    } catch (error) {
      showMessage("sign-in-error", refusal(error));
    }
  });
});
