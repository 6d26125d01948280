// Admins: every staff account, whether it can sign in, whether it is locked; set a password.
"use strict";

async function load() {
  const accounts = await api("/api/auth/accounts");
  document.querySelector("#accounts tbody").replaceChildren(...accounts.map((a) => {
    const input = el("input", { type: "password", placeholder: t("accounts.new_password"), minlength: 8 });
    return el("tr", { dataset: { username: a.username } },
      el("td", {}, a.username), el("td", {}, a.name), el("td", {}, t("role." + a.role)), el("td", {}, centreName(a.centre_code)),
      el("td", {}, a.locked_until ? `${t("accounts.locked")} ${formatTime(a.locked_until)}` : ""),
      el("td", {}, input, el("button", {
        type: "button",
        class: "secondary",
        onclick: async () => {
          try {
            await api(`/api/auth/accounts/${a.staff_id}/password`, { method: "PUT", body: { password: input.value } });
            input.value = "";
            await load();
          } catch (error) {
            alert(`${t("common.error")}: ${error.message}`);
          }
        },
      }, t("action.save"))));
  }));
}

document.addEventListener("DOMContentLoaded", load);
