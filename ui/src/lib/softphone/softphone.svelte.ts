// The softphone bar's state. Click-to-call anywhere in the window fills the number here.
export const softphone = $state({ number: "" });
