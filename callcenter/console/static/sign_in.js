// The sign-in form: the API sets the session cookie, then on to where the person was going.
"use strict";

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
      const next = new URLSearchParams(location.search).get("next");
      // Only a path on this site: never send a person to another site after signing in.
      const safe = next && next.startsWith("/") && !next.startsWith("//") ? next : null;
      location.assign(safe || (me.role === "community_worker" ? "/worker" : "/console"));
    } catch (error) {
      showMessage("sign-in-error", error.code === "account_locked" ? `${t("sign_in.locked")} (${error.message})` : t("sign_in.refused"));
    }
  });
});
