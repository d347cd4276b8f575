// Placeholder: replaced by the emulator + authority launcher once dev/ is ready.
export default function setup(): void {}
