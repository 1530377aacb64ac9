import { h } from "./dom.ts";

export interface ConfirmOptions {
  title: string;
  body: (string | Node)[];
  confirmLabel: string;
  danger?: boolean;
}

/** A modal question (the native <dialog>: focus kept inside, Escape cancels). True when confirmed. */
export const confirmAction = ({ title, body, confirmLabel, danger = false }: ConfirmOptions): Promise<boolean> =>
  new Promise((resolve) => {
    const cancel = h("button", { type: "button", class: "button", value: "cancel" }, "Cancel");
    const confirm = h("button", { type: "submit", class: danger ? "button danger" : "button primary", value: "confirm" }, confirmLabel);
    const heading = h("h2", { id: "confirm-title" }, title);
    const form = h(
      "form",
      { method: "dialog" },
      heading,
      ...body.map((p) => (typeof p === "string" ? h("p", {}, p) : p)),
      h("div", { class: "actions" }, cancel, confirm),
    );
    const dialog = h("dialog", { "aria-labelledby": "confirm-title" }, form);
    cancel.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
