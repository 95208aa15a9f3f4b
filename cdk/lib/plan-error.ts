/** A plan that cannot be deployed; the message names the plan, its file and what is wrong. */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}
